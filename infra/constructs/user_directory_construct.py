"""The Cognito user pool ("the user database"): sellers and admins, admins being a group."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.config import UsersConfig
from infra.constructs.nag import acknowledge, pin_logical_id
from lambdas.api.password_policy import PasswordPolicy

SELLERS_GROUP = "sellers"
ADMINS_GROUP = "admins"


class UserDirectoryConstruct(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: UsersConfig,
        deletion_protection: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        # The API states the same policy when it refuses a password (PASSWORD_POLICY).
        policy = PasswordPolicy(minimum_length=settings.password_min_length)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            self_sign_up_enabled=True,  # POST /register signs sellers up
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            # No custom attributes: roles come from groups only, which users cannot edit.
            password_policy=cognito.PasswordPolicy(
                min_length=policy.minimum_length,
                require_digits=policy.require_numbers,
                require_lowercase=policy.require_lowercase,
                require_uppercase=policy.require_uppercase,
                require_symbols=policy.require_symbols,
            ),
            mfa=cognito.Mfa.REQUIRED if settings.mfa == "required" else cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.ESSENTIALS,
            deletion_protection=deletion_protection,
            removal_policy=RemovalPolicy.RETAIN,
        )
        pin_logical_id(self.user_pool, "UserPool")
        self.client = self.user_pool.add_client(
            "ApiClient",
            auth_flows=cognito.AuthFlow(user_password=True, user_srp=True),
            generate_secret=False,  # the API's /login calls InitiateAuth on the user's behalf
            prevent_user_existence_errors=True,
            access_token_validity=Duration.minutes(settings.access_token_validity_minutes),
            id_token_validity=Duration.minutes(settings.access_token_validity_minutes),
            refresh_token_validity=Duration.days(30),
        )
        for name, precedence, description in (
            (ADMINS_GROUP, 0, "Manage the product catalogue and read every user's logs"),
            (SELLERS_GROUP, 10, "List products and read their own prediction logs"),
        ):
            cognito.CfnUserPoolGroup(
                self,
                f"{name.capitalize()}Group",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=name,
                precedence=precedence,
                description=description,
            )
        if settings.mfa != "required":
            acknowledge(
                self.user_pool,
                "MFA is optional (TOTP) in this stage by config: sellers are onboarded without "
                "a second factor; prod's config can require it.",
                "AwsSolutions-COG2",
            )
        acknowledge(
            self.user_pool,
            "Threat protection (advanced security) needs the Cognito Plus plan, a per-user "
            "monthly cost; the API's throttling and usage plan bound abuse instead.",
            "AwsSolutions-COG3",
            "AwsSolutions-COG8",
        )
