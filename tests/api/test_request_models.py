"""The header and query models build their JSON schema once (api/request_models.py): the
same schema pydantic builds, and a caller that changes its copy changes nothing else."""

from __future__ import annotations

from pydantic import BaseModel

from api.schemas import AsyncQuery, JobHeaders


def test_the_schema_is_pydantics_and_each_caller_gets_its_own_copy() -> None:
    for model in (JobHeaders, AsyncQuery):
        built_by_pydantic = BaseModel.model_json_schema.__func__(model)  # type: ignore[attr-defined]
        first = model.model_json_schema()
        assert first == built_by_pydantic
        first["properties"].clear()  # a caller that edits what it was given
        assert model.model_json_schema() == built_by_pydantic
        assert model.model_json_schema(by_alias=False) == BaseModel.model_json_schema.__func__(  # type: ignore[attr-defined]
            model, by_alias=False
        )
