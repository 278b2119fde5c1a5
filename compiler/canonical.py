"""Canonical JSON of the IR, its content hash, and the IR's JSON Schema.

Canonical means: keys sorted, no insignificant whitespace, decimals as strings in their
normalised form, UTF-8. The same spec always gives the same bytes, so the hash identifies
what will run, independent of formatting, comments or file location.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated

from pydantic import Field, TypeAdapter

from . import ir

Document = Annotated[ir.Strategy | ir.Policy, Field(discriminator="kind")]


def canonical_json(doc: ir.Strategy | ir.Policy) -> str:
    data = doc.model_dump(mode="json")
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ir_schema() -> dict[str, object]:
    schema: dict[str, object] = TypeAdapter(Document).json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"rebal IR {ir.IR_VERSION}"
    return schema


def ir_schema_json() -> str:
    return json.dumps(ir_schema(), indent=2, sort_keys=True)
