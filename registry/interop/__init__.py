"""Interoperability: the registry's data in the formats other systems read.

- ``registry dictionary --format redcap|csv|json``: the data dictionary of every instrument
  and registry field (``redcap``: REDCap's 18-column data dictionary, ``dictionaryfile``);
- ``registry export --format odm``: a de-identified CDISC ODM 1.3.2 snapshot (``odm``,
  ``odmdata``), made by the export pipeline of ``registry.research.export``;
- ``registry fhir``: a patient's identified outcomes as a FHIR R4 Bundle, or an instrument
  as a FHIR Questionnaire (``fhir``, ``fhirpatient``).

Everything is generated from the scoring catalogue, the vocabularies and the export's
column specs (``fields``); no module here lists instruments or fields by hand, and none
ships licensed item wording (KOOS, WOMAC): short labels only.
"""
