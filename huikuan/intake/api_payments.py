"""API endpoints of payments imports: statement lines, decisions, posting."""

from ninja import Router

router = Router()
