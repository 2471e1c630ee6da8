"""The configuration: ``schema`` (frozen dataclasses, defaults, validation), ``load`` (the only
YAML reader and writer: files, ``--set``, ``--grid``) and ``reference`` (the generated docs)."""

from .load import (
    apply_override,
    dump_yaml,
    grid_combinations,
    grid_configs,
    load_config,
    parse_grid,
    parse_yaml,
    with_overrides,
)
from .schema import (
    AugmentConfig,
    BlockConfig,
    Config,
    DataConfig,
    ExtractorConfig,
    KFoldConfig,
    ModelConfig,
    OutputConfig,
    TrainConfig,
    from_dict,
    to_dict,
)
