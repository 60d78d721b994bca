"""Onboarding a customer: the steps over a persisted draft, their forms, and the pages."""
