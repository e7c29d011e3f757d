"""The Celery app's queues: a long migration must never share a queue with health work."""

from controlplane.celery import app


def test_each_queue_has_its_own_exchange_and_routing_key():
    bindings = {q.name: (q.exchange.name, q.routing_key) for q in app.amqp.queues.values()}
    assert bindings == {"control": ("control", "control"), "migrations": ("migrations", "migrations")}


def test_migration_tasks_route_to_the_migrations_queue_and_the_rest_to_control():
    assert app.amqp.router.route({}, "migrations_app.engine.tasks.run_component")["queue"].name == "migrations"
    assert app.amqp.router.route({}, "migrations_app.rollout.tasks.reconcile_all")["queue"].name == "control"
