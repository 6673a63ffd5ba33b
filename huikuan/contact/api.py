"""API of the contact app, mounted under /api/v1/ by huikuan/api/api.py."""

from __future__ import annotations

from ninja import Router

router = Router()
