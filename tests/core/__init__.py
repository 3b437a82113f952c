"""Tests of hearme.core: the record schema, the IO layer, dataset_info.json."""
