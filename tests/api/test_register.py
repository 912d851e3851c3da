"""POST /api/v1/auth/register — the first real endpoint, responses validated against the spec."""

from tests.support import unique_email


async def test_register_creates_a_user(client):
    email = unique_email("Ada")
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": "correct horse", "display_name": " Ada "},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["email"] == email
    assert body["display_name"] == "Ada"
    assert body["role"] == "user"
    assert "password" not in body and "password_hash" not in body


async def test_registering_an_email_twice_in_any_case_is_a_conflict(client):
    email = unique_email()
    payload = {"email": email, "password": "correct horse", "display_name": "Ada"}
    assert (await client.post("/api/v1/auth/register", json=payload)).status_code == 201
    again = await client.post("/api/v1/auth/register", json={**payload, "email": email.upper()})
    assert again.status_code == 409
    assert again.json()["code"] == "EMAIL_TAKEN"
    zh = await client.post("/api/v1/auth/register", json=payload, headers={"Accept-Language": "zh"})
    assert zh.json()["title"] == "该邮箱已被注册"
