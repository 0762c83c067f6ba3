from . import controllers, demo, models, wizards

# after the models: the engine extends crm.customer.profile
from .recompute import (
    deal_source,
    incremental,
    metrics,
    notify,
    owners,
    rebuild,
    run,
    stages,
    writer,
)  # isort: skip

from .campaign import enrolment, outcomes, recommend, runner  # isort: skip
from .hooks import post_init_hook
