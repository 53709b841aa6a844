"""Rasa's file importer, with the intents of the NLU files added to the domain.

The NLU files are the one list of what citizens can say: a topic's intent is its catalogue id and
exists because its examples do. Without this, every topic would also have to be copied by hand into
the domain's intent list. Intents that have no examples (button choices, the handover service's
events) stay in the domain files. Selected in config.yml (`importers:`).
"""

from __future__ import annotations

from typing import List, Optional, Text, Union

from rasa.shared.core.domain import Domain
from rasa.shared.importers.rasa import RasaFileImporter
from rasa.shared.utils.common import cached_method


class NluIntentsImporter(RasaFileImporter):
    def __init__(
        self,
        config_file: Optional[Text] = None,
        domain_path: Optional[Text] = None,
        training_data_paths: Optional[Union[List[Text], Text]] = None,
    ) -> None:
        super().__init__(config_file, domain_path, training_data_paths)

    @cached_method  # type: ignore[untyped-decorator]  # Rasa has no type information
    def get_domain(self) -> Domain:
        """The domain files plus every intent with NLU examples."""
        domain = super().get_domain()
        intents = sorted(self.get_nlu_data().intents - set(domain.intents))
        return domain.merge(Domain.from_dict({"intents": intents}))
