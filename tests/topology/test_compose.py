"""docker-compose.yml runs the Procfile's topology: the same processes with the same commands,
on the postgres and redis it declares (parsed only: no Docker engine is needed)."""

from pathlib import Path

import yaml

from controlplane import procfile

ROOT = Path(__file__).resolve().parents[2]
INFRASTRUCTURE = {"postgres", "redis"}


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def app_services(services: dict) -> dict:
    return {name: service for name, service in services.items() if name not in INFRASTRUCTURE}


def test_it_runs_each_procfile_process_with_the_same_command():
    services = compose()["services"]
    expected = {entry.name: entry.argv for entry in procfile.read(procfile.ROOT_PROCFILE)}
    assert {name: service["command"] for name, service in app_services(services).items()} == expected


def test_exactly_one_beat_runs():
    services = app_services(compose()["services"])
    beats = [name for name, service in services.items() if "beat" in service["command"]]
    assert beats == ["beat"]
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1


def test_postgres_and_redis_keep_their_data_and_report_their_health():
    document = compose()
    for name in INFRASTRUCTURE:
        service = document["services"][name]
        assert service["healthcheck"]["test"], name
        volume = service["volumes"][0].split(":")[0]
        assert volume in document["volumes"], name


def test_every_process_uses_that_postgres_and_redis_once_they_are_healthy_and_migrated():
    services = app_services(compose()["services"])
    for name, service in services.items():
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgres://switchyard:switchyard@postgres:5432/"), name
        assert env["REDIS_URL"].startswith("redis://redis:6379/"), name
        assert env["TARGET_DATABASES"].startswith("target=postgres://switchyard:switchyard@postgres:5432/"), name
        depends = service["depends_on"]
        assert depends["postgres"] == {"condition": "service_healthy"}, name
        assert depends["redis"] == {"condition": "service_healthy"}, name
        if name != "release":
            assert depends["release"] == {"condition": "service_completed_successfully"}, name
    assert services["release"]["restart"] == "no"


def test_the_web_listens_on_all_interfaces_of_its_container_on_the_published_port():
    web = compose()["services"]["web"]
    assert web["environment"]["HOST"] == "0.0.0.0"
    assert web["ports"] == [f"{web['environment']['PORT']}:{web['environment']['PORT']}"]


def test_the_simulator_reports_to_the_web_and_every_process_knows_where_it_serves():
    services = compose()["services"]
    simulator = services["simulator"]
    assert simulator["environment"]["SWITCHYARD_URL"] == f"http://web:{services['web']['environment']['PORT']}"
    for name, service in app_services(services).items():
        assert service["environment"]["SIMULATOR_URL"].startswith("http://simulator:"), name


def test_the_image_it_builds_and_the_files_it_mounts_exist():
    services = compose()["services"]
    assert all(service["build"] == "." for service in app_services(services).values())
    assert (ROOT / "Dockerfile").is_file()
    mounted = [v.split(":")[0] for v in services["postgres"]["volumes"] if v.startswith("./")]
    assert mounted and all((ROOT / path).is_file() for path in mounted)
