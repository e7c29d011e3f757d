from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from controlplane import converters, views  # noqa: F401 - converters registers <plan:...>
from controlplane.api import api

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("monitoring.urls")),
    path("", include("migrations_app.urls")),
]
