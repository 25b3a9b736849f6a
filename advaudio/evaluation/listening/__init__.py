"""Blind listening tests (the library behind `python -m advaudio.listen`).

build.py    run folders -> a self-contained blind test page and its key
serve.py    serves a test folder on 127.0.0.1 and stores validated submissions
analyze.py  answer sheets -> post-screening, means with CIs, Wilcoxon + Holm, AB binomial tests
page/       the page itself (index.html, app.js, style.css)
"""
