"""Patients report their own outcomes: links, drafts, submission into the visit.

The patient's pages and the clinic tablet are the ``selfreport`` blueprint
(``registry.selfreport.routes``, which also loads ``kiosk``); importing this package
loads no views, so its modules can be imported on their own.
"""
