"""Services of the clinical area: each does one change, validates it and flushes.

Views call exactly one of these per request; the request boundary commits (or rolls
back on a status >= 400), so a service never commits.
"""
