"""Model and data cards generated from run records and dataset manifests, and their check.

A card is a Hugging Face card (``huggingface_hub`` ``ModelCard`` / ``DatasetCard``): YAML
metadata the Hub reads (``model-index`` eval results; dataset language, licence, size) and
Markdown sections. *Generated* sections (results, provenance, the difficulty profile) are
rewritten on every generation; *written* sections (intended use, risks, personal and
sensitive information, ...) are kept from the existing card and, where nobody has written
them yet, carry a :data:`TODO` marker: what the run cannot know is marked, never invented.
:func:`check_card` fails on a missing card, an unfilled required section, or a stale dataset
hash.
"""

from llaso_pytest.cards.sections import TODO, CardError, CardProblem, check_card

__all__ = ["TODO", "CardError", "CardProblem", "check_card"]
