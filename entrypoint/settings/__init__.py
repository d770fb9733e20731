"""Pure: the environment, process definitions, argv words, names, secrets, errors, units, Django settings, django-prodserver's PRODUCTION_PROCESSES and the table of backends."""
