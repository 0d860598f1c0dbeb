"""Contrastive spatial pre-training (CSP) of location encoders against image patches.

* :mod:`.objectives` — MSE, NCE, MC/InfoNCE (symmetric), SimCSE, CSP-MC-BLD / CSP-NCE-BLD;
* :mod:`.contexts` — the declared pre-training contexts (channels, raw source, quantities, licence);
* :mod:`.data` — (location, context patch) pairs from real sampling densities over land and sea;
* :mod:`.image_encoder` — the small CNN trained jointly, or first and then locked (:mod:`.locked`: augmentation
  contrast on the patches alone, fixed embeddings for the location encoder);
* :mod:`.train` — the seeded, resumable pre-training loop (single process or ``torchrun`` DDP);
* :mod:`.distributed` — gradient-correct all-gather so every process sees all negatives.

``geosrl pretrain`` runs :func:`.train.pretrain`; CSP's few-shot evaluation is a benchmark protocol
(:mod:`geosrl.tasks.fewshot`, ``geosrl bench --profile fewshot_quick``).
"""

from .objectives import (
    OBJECTIVES,
    CSPObjective,
    Temperature,
    infonce_objective,
    location_negative_objective,
    mse_objective,
    nce_objective,
    simcse_objective,
)

__all__ = [
    "OBJECTIVES",
    "CSPObjective",
    "Temperature",
    "infonce_objective",
    "location_negative_objective",
    "mse_objective",
    "nce_objective",
    "simcse_objective",
]
