"""The Django admin: the operations console over customers and what BVNK says of them."""

# Imported for their @admin.register side effect.
from . import activity, customers, operations, wallets  # noqa: F401
