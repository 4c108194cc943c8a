"""Wire-format models (pydantic), matching Prefect's REST API."""
