/**
 * Deflate dictionary v1 of stored payloads (format tag 0x1c, see payload-codec.ts): 3699
 * bytes, whole CBOR payloads of synthetic OPA decisions (test/fixtures/opa/upload-batch.json)
 * picked greedily by scripts/payload-dictionary.mjs (method and measurements there and in
 * spec/storage.md). Generated: do not edit. Never change it either: rows stored with it
 * need these exact bytes to inflate; a new dictionary is a new format tag.
 */
export const PAYLOAD_DICTIONARY_V1: Uint8Array = Buffer.from(
  'q2RwYXRocGh0dHAvYXV0aHovYWxsb3dlZXJyb3KjZGNvZGVyZXZhbF9idWlsdGluX2Vycm9yZ21lc3NhZ2V4T2h0dHAuc2Vu' +
    'ZDogcmVxdWVzdCB0byBodHRwczovL2VudGl0bGVtZW50cy5pbnRlcm5hbC92Mi9jaGVjayB0aW1lZCBvdXQgYWZ0ZXIgNXNo' +
    'bG9jYXRpb26jY2NvbANjcm93GClkZmlsZXgnL2J1bmRsZXMvYXV0aHovcG9saWN5L2VudGl0bGVtZW50cy5yZWdvZWlucHV0' +
    'pGRwYXRoeCMvYXBpL3YxL29yZGVycz9zdGF0dXM9b3BlbiZsaW1pdD01MGR1c2VyZWFsaWNlZXJvbGVzgWVhZG1pbmZtZXRo' +
    'b2RjR0VUZmxhYmVsc6RiaWR4JGMzYzU5ZWEyLTk0NjMtNGJiYS04ZmZhLWQ5OWJhMzE2NjJiZGNhcHBqb3JkZXJzLWFwaWd2' +
    'ZXJzaW9uZTEuNC4ya2Vudmlyb25tZW50ZHByb2RmcmVxX2lkGUdWZ2J1bmRsZXOhZWF1dGh6oWhyZXZpc2lvbmtnaXQtOGYz' +
    'YzJhMWdtZXRyaWNzpHd0aW1lcl9zZXJ2ZXJfaGFuZGxlcl9ucxoAA//reBh0aW1lcl9yZWdvX3F1ZXJ5X2V2YWxfbnMZ39l4' +
    'GXRpbWVyX3JlZ29faW5wdXRfcGFyc2VfbnMZWZp4HmNvdW50ZXJfc2VydmVyX3F1ZXJ5X2NhY2hlX2hpdAFpdGltZXN0YW1w' +
    'eB4yMDI1LTA2LTEwVDE0OjAzOjIyLjAwMjEwNzAxNFprZGVjaXNpb25faWR4JGRhNjU5YTA5LTk1YmEtNGI1NS1iMDQ3LWRh' +
    'MGY3MWUyYTY5ZmxyZXF1ZXN0ZWRfYnlzW2ZkMDA6NDI6OjFjXTo0OTU3Mm9yZXF1ZXN0X2NvbnRleHShZGh0dHChZ2hlYWRl' +
    'cnOhbFgtUmVxdWVzdC1JZIFwYmI2YzFiZDNjOTI5ODdiMKpkcGF0aHBodHRwL2F1dGh6L2FsbG93ZWlucHV0pGRwYXRodS9h' +
    'cGkvdjEvb3JkZXJzLzUwMjQ3OGR1c2VyY2JvYmVyb2xlc4Fmdmlld2VyZm1ldGhvZGZERUxFVEVmbGFiZWxzpGJpZHgkYzNj' +
    'NTllYTItOTQ2My00YmJhLThmZmEtZDk5YmEzMTY2MmJkY2FwcGpvcmRlcnMtYXBpZ3ZlcnNpb25lMS40LjJrZW52aXJvbm1l' +
    'bnRkcHJvZGZyZXFfaWQZR2BmcmVzdWx09GdidW5kbGVzoWVhdXRoeqFocmV2aXNpb25rZ2l0LThmM2MyYTFnbWV0cmljc6R3' +
    'dGltZXJfc2VydmVyX2hhbmRsZXJfbnMaAAYpgngYdGltZXJfcmVnb19xdWVyeV9ldmFsX25zGZr+eBl0aW1lcl9yZWdvX2lu' +
    'cHV0X3BhcnNlX25zGT/eeB5jb3VudGVyX3NlcnZlcl9xdWVyeV9jYWNoZV9oaXQBaXRpbWVzdGFtcHgeMjAyNS0wNi0xMFQx' +
    'NDowMzoyNS40NDU5NTQ4MzVaa2RlY2lzaW9uX2lkeCRjZWFmYWVmYy0xYzI0LTRkMjYtYjk3My0zZDBiNjBjNTViZmJscmVx' +
    'dWVzdGVkX2J5cDEwLjQyLjcuOTE6NTc2NDGqZHBhdGhzaHR0cC9hdXRoei9kZWNpc2lvbmVpbnB1dKRkcGF0aHUvYXBpL3Yx' +
    'L29yZGVycy84NDUzODdkdXNlcmVjYXJvbGVyb2xlc4FmZWRpdG9yZm1ldGhvZGZERUxFVEVmbGFiZWxzpGJpZHgkYzNjNTll' +
    'YTItOTQ2My00YmJhLThmZmEtZDk5YmEzMTY2MmJkY2FwcGpvcmRlcnMtYXBpZ3ZlcnNpb25lMS40LjJrZW52aXJvbm1lbnRk' +
    'cHJvZGZyZXFfaWQZRzxmcmVzdWx0omVhbGxvd/RncmVhc29uc4F4HW9ubHkgYWRtaW5zIG1heSBkZWxldGUgb3JkZXJzZ2J1' +
    'bmRsZXOhZWF1dGh6oWhyZXZpc2lvbmtnaXQtOGYzYzJhMWdtZXRyaWNzpHd0aW1lcl9zZXJ2ZXJfaGFuZGxlcl9ucxoACGaU' +
    'eBh0aW1lcl9yZWdvX3F1ZXJ5X2V2YWxfbnMaAAPz7XgZdGltZXJfcmVnb19pbnB1dF9wYXJzZV9ucxmc33geY291bnRlcl9z' +
    'ZXJ2ZXJfcXVlcnlfY2FjaGVfaGl0AWl0aW1lc3RhbXB4HjIwMjUtMDYtMTBUMTQ6MDM6MDkuMzQ3ODQ0NTA5WmtkZWNpc2lv' +
    'bl9pZHgkZjYzMTBhZDQtMjM2YS00MTBjLTkxMWQtZDE0OTYzMGVmOTdmbHJlcXVlc3RlZF9ieXAxMC40Mi4zLjE4OjQ5NzU1' +
    'rWRwYXRoeCBodHRwL2F1dGh6L3dpdGhpbl9idXNpbmVzc19ob3Vyc2VpbnB1dKRkcGF0aG4vYXBpL3YxL29yZGVyc2R1c2Vy' +
    'ZWFsaWNlZXJvbGVzgWVhZG1pbmZtZXRob2RkUE9TVGZsYWJlbHOkYmlkeCRjM2M1OWVhMi05NDYzLTRiYmEtOGZmYS1kOTli' +
    'YTMxNjYyYmRjYXBwam9yZGVycy1hcGlndmVyc2lvbmUxLjQuMmtlbnZpcm9ubWVudGRwcm9kZnJlcV9pZBlHgWZyZXN1bHT1' +
    'Z2J1bmRsZXOhZWF1dGh6oWhyZXZpc2lvbmtnaXQtOWQ0MWUwN2dtZXRyaWNzpHd0aW1lcl9zZXJ2ZXJfaGFuZGxlcl9ucxoA' +
    'BcEheBh0aW1lcl9yZWdvX3F1ZXJ5X2V2YWxfbnMaAAHTmXgZdGltZXJfcmVnb19pbnB1dF9wYXJzZV9ucxlhYHgeY291bnRl' +
    'cl9zZXJ2ZXJfcXVlcnlfY2FjaGVfaGl0AWdzcGFuX2lkcGUwMjIwOTU1ZTliMjJmNzFodHJhY2VfaWR4IDJiMjcxMzg2ZDZl' +
    'OTMyMTAzYTg3YjBmNjcxZDFiNmY3aXRpbWVzdGFtcHgeMjAyNS0wNi0xMFQxNDowMzozNy4zNTQ2ODQ1MDhaa2RlY2lzaW9u' +
    'X2lkeCRhZDE1MGE4MC1kZDAzLTQ1ZWQtOWM2Ni0yZTEzM2E4NDdjZGVscmVxdWVzdGVkX2J5cDEwLjQyLjMuMTg6MzU1OTZw' +
    'bmRfYnVpbHRpbl9jYWNoZaFrdGltZS5ub3dfbnOhYltdGxhHs2hsuD/AqmRwYXRocGh0dHAvYXV0aHovYWxsb3dlaW5wdXSk' +
    'ZHBhdGh4Iy9hcGkvdjEvb3JkZXJzP3N0YXR1cz1vcGVuJmxpbWl0PTUwZHVzZXJsc3ZjLWludm9pY2VyZXJvbGVzgWdzZXJ2' +
    'aWNlZm1ldGhvZGNHRVRmbGFiZWxzpGJpZHgkYzNjNTllYTItOTQ2My00YmJhLThmZmEtZDk5YmEzMTY2MmJkY2FwcGpvcmRl' +
    'cnMtYXBpZ3ZlcnNpb25lMS40LjJrZW52aXJvbm1lbnRkcHJvZGZyZXFfaWQZRzlmcmVzdWx09WdidW5kbGVzoWVhdXRoeqFo' +
    'cmV2aXNpb25rZ2l0LThmM2MyYTFnbWV0cmljc6V3dGltZXJfc2VydmVyX2hhbmRsZXJfbnMaAAlZOngYdGltZXJfcmVnb19x' +
    'dWVyeV9ldmFsX25zGgAER0J4GXRpbWVyX3JlZ29faW5wdXRfcGFyc2VfbnMZ4PZ4GXRpbWVyX3JlZ29fcXVlcnlfcGFyc2Vf' +
    'bnMZwUJ4G3RpbWVyX3JlZ29fcXVlcnlfY29tcGlsZV9ucxoAB60jaXRpbWVzdGFtcHgeMjAyNS0wNi0xMFQxNDowMzowOC4x' +
    'MzQyMDU0Nzlaa2RlY2lzaW9uX2lkeCQ2MDBjMDFkMi1iMWYyLTRmNjAtYjkzNS04NGJlNWMyNzcyMjBscmVxdWVzdGVkX2J5' +
    'cDEwLjQyLjMuMTg6MzkzMjGtZHBhdGhwaHR0cC9hdXRoei9hbGxvd2VpbnB1dKZkYm9keaJjcXR5BWNza3VmTVMtMjIwZHBh' +
    'dGh1L2FwaS92MS9vcmRlcnMvODEzMzk3ZHVzZXJkZGF2ZWVyb2xlc4Jmdmlld2VyZ2JpbGxpbmdmbWV0aG9kZVBBVENIZ2hl' +
    'YWRlcnOibGNvbnRlbnQtdHlwZXBhcHBsaWNhdGlvbi9qc29ubWF1dGhvcml6YXRpb25sKipSRURBQ1RFRCoqZmVyYXNlZIF3' +
    'L2lucHV0L2JvZHkvY2FyZF9udW1iZXJmbGFiZWxzpGJpZHgkYzNjNTllYTItOTQ2My00YmJhLThmZmEtZDk5YmEzMTY2MmJk' +
    'Y2FwcGpvcmRlcnMtYXBpZ3ZlcnNpb25lMS40LjJrZW52aXJvbm1lbnRkcHJvZGZtYXNrZWSBeBwvaW5wdXQvaGVhZGVycy9h' +
    'dXRob3JpemF0aW9uZnJlcV9pZBlHRWZyZXN1bHT0Z2J1bmRsZXOhZWF1dGh6oWhyZXZpc2lvbmtnaXQtOGYzYzJhMWdtZXRy' +
    'aWNzpHd0aW1lcl9zZXJ2ZXJfaGFuZGxlcl9ucxoACjqieBh0aW1lcl9yZWdvX3F1ZXJ5X2V2YWxfbnMaAASkKngZdGltZXJf' +
    'cmVnb19pbnB1dF9wYXJzZV9ucxmLp3geY291bnRlcl9zZXJ2ZXJfcXVlcnlfY2FjaGVfaGl0AWl0aW1lc3RhbXB4HjIwMjUt' +
    'MDYtMTBUMTQ6MDM6MTIuNDE2MTExMjY3WmtkZWNpc2lvbl9pZHgkNTEwZmE0NjYtNGE5Yy00YTVkLWFiOTQtODcwMDczODhk' +
    'ZGZkbHJlcXVlc3RlZF9ieXNbZmQwMDo0Mjo6MWNdOjQzMDQ5b3JlcXVlc3RfY29udGV4dKFkaHR0cKFnaGVhZGVyc6FsWC1S' +
    'ZXF1ZXN0LUlkgXA1YmNmYTBkZjNkYTg5YTQw',
  'base64',
);
