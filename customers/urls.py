from django.urls import include, path

from . import dashboard_views, onboarding_views, views, webhooks

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("webhooks/", webhooks.webhook_overview, name="webhooks"),
    path("bvnk-connection/", webhooks.bvnk_connection, name="bvnk_connection"),
    path("", include(onboarding_views.urlpatterns)),
    path("", include(dashboard_views.urlpatterns)),
]
