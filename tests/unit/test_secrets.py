from entrypoint.settings import secrets


def test_secret_names():
    for name in ("DJANGO_SECRET_KEY", "DB_PASSWORD", "API_TOKEN", "aws_access_key_id", "GOOGLE_CREDENTIALS"):
        assert secrets.is_secret_name(name), name
    for name in ("PORT", "DJANGO_SETTINGS_MODULE", "PROD_ENTRY_PROCESS_WEB"):
        assert not secrets.is_secret_name(name), name


def test_url_passwords_are_masked():
    assert secrets.mask_urls("postgres://app:s3cr3t@db:5432/app") == "postgres://app:****@db:5432/app"
    assert secrets.mask_urls("redis://:pw0rd@r/0 and amqp://u:p@h//") == "redis://:****@r/0 and amqp://u:****@h//"
    assert secrets.mask_urls("http://host:8000/path") == "http://host:8000/path"


def test_redactor_masks_values_anywhere():
    redact = secrets.redactor({"API_TOKEN": "tok-123456", "DATABASE_URL": "postgres://u:dbpass99@h/d", "PORT": "8000"})
    text = redact("--token=tok-123456 --db=postgres://u:dbpass99@h/d dbpass99 port 8000")
    assert "tok-123456" not in text and "dbpass99" not in text and "8000" in text


def test_word_redactor_masks_short_secrets_as_whole_words():
    redact = secrets.word_redactor({"DB_PASS": "abc", "API_TOKEN": "tok-123456", "PORT": "80"})
    assert [redact(w) for w in ["abc", "--password=abc", "abcdef", "--t=tok-123456", "80"]] == \
        ["****", "--password=****", "abcdef", "--t=****", "80"]


def test_header_settings_are_masked_whole_and_value_by_value():
    env = {"PROD_ENTRY_PROCESS_WEB_HEALTHCHECK_HEADERS": "Authorization: Bearer tok-abcdef; X-Probe: 1",
           "PROD_ENTRY_WARMUP_HEADERS": '{"X-Api-Key": "key-123456"}'}
    redact = secrets.redactor(env)
    assert redact("sent Bearer tok-abcdef and key-123456") == "sent **** and ****"
    assert redact("token tok-abcdef") == "token ****"
    # A one-character value is no secret worth masking innocent words for.
    assert secrets.word_redactor(env)("--workers=1") == "--workers=1"


def test_malformed_header_settings_still_mask_their_values():
    assert secrets.redactor({"PROD_ENTRY_WARMUP_HEADERS": "Authorization: Bearer tok-abcdef; oops"})("tok-abcdef") == "****"
