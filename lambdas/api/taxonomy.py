"""The 27 product-type codes a label may take (prodcat_contracts.taxonomy: one list for model and API)."""

from __future__ import annotations

from lambdas.api.errors import BadRequest
from prodcat_contracts.taxonomy import BUILTIN_NAMES

CODES = frozenset(BUILTIN_NAMES)


def check_code(code: int) -> int:
    if code not in CODES:
        raise BadRequest(
            f"prdtypecode {code} is not a product type; use one of {sorted(CODES)}",
            errors=[{"field": "prdtypecode", "message": "unknown product type"}],
        )
    return code
