"""The sample Classter dataset: generator, expected-state oracle and publisher.

Modules: ``records`` (the JSONL line format and where each record lands in Kafka), ``cases``
(the named scenario cases), ``generate`` (the seeded dataset and the files under
``examples/sample/``), ``contract`` and ``oracle`` (an independent re-implementation of the event
contract and of SPEC sections 4 and 10 that computes the CRM state the daemon must reach), and
``publish`` (writes the JSONL to Kafka). Nothing here is imported by ``consumer/``.
"""
