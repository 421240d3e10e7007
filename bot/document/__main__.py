"""`python -m bot.document`: write the JSON schema of the compass document to docs/."""

from bot.document.model import SCHEMA_PATH, schema_text

SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
print(f"Geschreven: {SCHEMA_PATH}")
