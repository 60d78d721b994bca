"""The portal's settings with the benchmarks' URLs added (bench/_urls.py); nothing else
changes, so the portal's pages and middleware are measured as they run."""

from portal.settings import *  # noqa: F403 - the portal's settings, unchanged

ROOT_URLCONF = "bench._urls"

# Django's default middleware, as `startproject` writes it.
DJANGO_DEFAULT_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
