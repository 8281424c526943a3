"""The contracts every unit shares, one home each: the API, the jobs, the serving container, the
pipeline and the CDK app all import them, and they import nothing of prodcat's (standard library
and pydantic only, so the Lambda zip and both images carry them whole).

    listing.py         the /invocations and /predict listing, prediction and batch schema
    text.py            what counts as a listing's text (the one text cleaning)
    taxonomy.py        the 27 product-type codes and their names
    request_policy.py  what a JSON request body may be, before it is parsed
    lake.py            the data lake: zones, key layout, record types, production keys
    gate.py            the promotion gate's policy and the metrics.json it reads
"""
