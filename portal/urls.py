from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from customers.webhooks import bvnk_webhook

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="customers:list", permanent=False)),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("customers/", include("customers.urls")),
    # With or without the slash: a POST cannot follow APPEND_SLASH's redirect.
    re_path(r"^webhooks/bvnk/?$", bvnk_webhook, name="bvnk-webhook"),
    path("admin/", admin.site.urls),
]
