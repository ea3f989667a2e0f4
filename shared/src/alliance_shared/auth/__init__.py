"""Bearer-JWT authentication (verified against a JWKS), roles and partner binding."""
