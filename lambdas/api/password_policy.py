"""The user pool's password policy, defined once: the CDK user pool and the local stack's pool are
created from it, and /register states it when Cognito refuses a password (Cognito's own message
does not say which rule failed, and moto's says "does not confirm to")."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PasswordPolicy(BaseModel):
    """Cognito's PasswordPolicy (CreateUserPool), in snake case; every character class required."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    minimum_length: int = Field(ge=8, le=99)  # Cognito allows 6-99; stage config asks >= 8
    require_uppercase: bool = True
    require_lowercase: bool = True
    require_numbers: bool = True
    require_symbols: bool = True

    def cognito(self) -> dict[str, int | bool]:
        """As CreateUserPool's `Policies.PasswordPolicy` takes it."""
        return {
            "MinimumLength": self.minimum_length,
            "RequireUppercase": self.require_uppercase,
            "RequireLowercase": self.require_lowercase,
            "RequireNumbers": self.require_numbers,
            "RequireSymbols": self.require_symbols,
        }

    def describe(self) -> str:
        """The rule in words, e.g. "at least 12 characters, with an upper-case letter, ..."."""
        needs = [
            what
            for required, what in (
                (self.require_uppercase, "an upper-case letter"),
                (self.require_lowercase, "a lower-case letter"),
                (self.require_numbers, "a digit"),
                (self.require_symbols, "a symbol such as ! or -"),
            )
            if required
        ]
        text = f"at least {self.minimum_length} characters"
        if needs:
            listed = needs[0] if len(needs) == 1 else f"{', '.join(needs[:-1])} and {needs[-1]}"
            text += f", with {listed}"
        return text
