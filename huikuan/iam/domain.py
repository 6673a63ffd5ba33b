"""PII masking (PIPL): what a role without the right to see personal data is shown."""

from __future__ import annotations

import phonenumbers


def mask_id_number(value: str) -> str:
    """Keep the region code and the last four characters: 110101********123X."""
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(e164: str) -> str:
    """Show the national number with its middle hidden: 138****5678."""
    national = _national(e164)
    if len(national) < 7:
        return "*" * len(national)
    return national[:3] + "*" * (len(national) - 7) + national[-4:]


def mask_address(value: str) -> str:
    """Keep the first six characters (province and city), hide the street and number."""
    return value[:6] + "****" if len(value) > 6 else "****"


def mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"


def format_phone(e164: str) -> str:
    try:
        number = phonenumbers.parse(e164, "CN")
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def _national(e164: str) -> str:
    try:
        return str(phonenumbers.parse(e164, "CN").national_number)
    except phonenumbers.NumberParseException:
        return e164
