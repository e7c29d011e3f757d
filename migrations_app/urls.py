from django.urls import path

from migrations_app import views

app_name = "migrations_app"
urlpatterns = [
    path("", views.plan_list, name="plan_list"),
    path("plans/<plan:plan_key>/", views.plan_detail, name="plan_detail"),
]
