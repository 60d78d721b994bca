from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from customers.webhooks import bvnk_webhook

from . import accounts
from .health import healthz, readyz

# The 500 page shows the request id without touching the database (portal/security.py).
handler500 = "portal.security.server_error"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="customers:list", permanent=False)),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include(accounts.urlpatterns)),
    path("customers/", include("customers.urls")),
    # With or without the slash: a POST cannot follow APPEND_SLASH's redirect.
    re_path(r"^webhooks/bvnk/?$", bvnk_webhook, name="bvnk-webhook"),
    # One login page (lockout, then the second factor) for the portal and the admin.
    path("admin/login/", accounts.admin_login),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
]
