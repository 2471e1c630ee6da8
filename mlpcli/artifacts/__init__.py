"""The run directory's only owner: its layout and file names (``rundir``), the model bundle
(``bundle``, checked by ``schema``), the run's records (``records``) and what ``show`` reads
(``summary``)."""

from .bundle import load_model, save_model
from .rundir import check_new_run_dir, new_run_dir, point_latest
