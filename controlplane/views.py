from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.db.utils import Error as DatabaseError
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from controlplane import __version__


@login_not_required
@require_GET
def healthz(request):
    """Liveness for load balancers and `make run`'s wait loop: is the database reachable?"""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except DatabaseError as error:
        database = f"unreachable: {error.__class__.__name__}"
    status = 200 if database == "ok" else 503
    body = {"status": "ok" if status == 200 else "degraded", "database": database, "version": __version__}
    return JsonResponse(body, status=status)
