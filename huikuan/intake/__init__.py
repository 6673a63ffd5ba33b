"""Intake: turn the spreadsheets and bank files teams bring into clean typed columns.

The ledger import's database-free core, in the order data flows through it:

- ``encoding``: which encoding a file is in (UTF-8, UTF-8 with BOM, GBK/GB18030, UTF-16),
  decided from its bytes, and a block-by-block transcoder to UTF-8;
- ``readers`` (with ``csvblocks``): CSV or XLSX as chunks of text columns, the header row found
  under any title rows, every row numbered as the user sees it; flat memory;
- ``headers``: canonical field names and the Chinese and English headers that mean them;
- ``values``, ``idnumbers``: vectorised Polars parsers (dates, amounts in fen, ID numbers and
  credit codes, phones, currency and product words);
- ``validate`` (with ``ledger_parse``, ``checks``, ``messages``, ``duplicates``): a chunk to
  clean typed rows plus one translated error per problem, by row and column;
- ``pipeline``: all of it for a whole file.
"""
