"""Postgres type → Python annotation, for the generated query interfaces."""

from __future__ import annotations

SCALARS: dict[str, str] = {
    "bool": "bool",
    "int2": "int",
    "int4": "int",
    "int8": "int",
    "oid": "int",
    "float4": "float",
    "float8": "float",
    "numeric": "decimal.Decimal",
    "text": "str",
    "varchar": "str",
    "bpchar": "str",
    "name": "str",
    "citext": "str",
    "uuid": "uuid.UUID",
    "bytea": "bytes",
    "date": "datetime.date",
    "time": "datetime.time",
    "timetz": "datetime.time",
    "timestamp": "datetime.datetime",
    "timestamptz": "datetime.datetime",
    "interval": "datetime.timedelta",
    "json": "Any",
    "jsonb": "Any",
    "inet": "ipaddress.IPv4Address | ipaddress.IPv6Address",
    "void": "None",
}


def python_type(name: str, kind: str) -> str:
    """Annotation for an asyncpg `Type(name, kind)`; enums and domains become `str`/`Any`."""
    if kind == "array" or name.endswith("[]"):
        inner = name.removesuffix("[]").lstrip("_")
        return f"list[{python_type(inner, 'scalar')}]"
    if name in SCALARS:
        return SCALARS[name]
    if kind == "enum":
        return "str"
    return "Any"
