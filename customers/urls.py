from django.urls import include, path

from . import views, webhooks
from .dashboard import queue_views
from .dashboard import views as dashboard_views
from .onboarding import views as onboarding_views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/requests/documents/", views.requests_upload, name="requests-upload"),
    path("<int:pk>/wallets/", views.wallet_create, name="wallet-create"),
    path("<int:pk>/wallets/<int:wallet_pk>/details/", views.wallet_details, name="wallet-details"),
    path("webhooks/", webhooks.webhook_overview, name="webhooks"),
    path("bvnk-connection/", webhooks.bvnk_connection, name="bvnk_connection"),
    path("", include(onboarding_views.urlpatterns)),
    path("", include(dashboard_views.urlpatterns)),
    path("", include(queue_views.urlpatterns)),
]
