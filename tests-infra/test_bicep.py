"""Facts about infra/*.bicep, checked on pycep-parser's parse of every file (offline)."""

from __future__ import annotations

import re

import pytest

from helpers import (
    BICEP_FILES,
    INFRA,
    ROLE_IDS,
    app_settings,
    body,
    condition,
    decorator,
    dotted,
    only_resource,
    parse_bicep,
    resources_of_type,
    ternary,
    walk_strings,
)

# Settings Flex Consumption replaced with functionAppConfig or manages itself.
FLEX_DEPRECATED_SETTINGS = {
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_MAX_HTTP_CONCURRENCY",
    "FUNCTIONS_WORKER_PROCESS_COUNT",
    "WEBSITE_NODE_DEFAULT_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
    "SCM_DO_BUILD_DURING_DEPLOYMENT",
    "ENABLE_ORYX_BUILD",
}
# Resource types whose every API version since the properties we use is a preview: the
# template reference documents this one as current (diagnosticSettings gained categoryGroup
# in 2021-05-01-preview and has no later version).
ONLY_PREVIEW_APIS = {"Microsoft.Insights/diagnosticSettings": "2021-05-01-preview"}
STORAGE_IDENTITY_SETTINGS = {
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__queueServiceUri",
}


def resolve(parsed: dict, value):
    """The value of a variable when `value` names one, else `value`."""
    if isinstance(value, str) and value in parsed.get("variables", {}):
        return parsed["variables"][value]["value"]
    return value


def test_infra_has_main_and_its_modules():
    names = {p.relative_to(INFRA).as_posix() for p in BICEP_FILES}
    assert {
        "main.bicep",
        "modules/monitoring.bicep",
        "modules/storage.bicep",
        "modules/functionapp.bicep",
        "modules/webapp.bicep",
        "modules/roles.bicep",
        "modules/registry.bicep",
        "modules/containerapp.bicep",
    } <= names


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_bicep_file_parses_offline(path):
    parsed = parse_bicep(path)
    assert parsed["parameters"] or parsed.get("resources") or parsed.get("modules")


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_bicep_file_has_no_registry_modules_keys_or_preview_apis(path):
    text = path.read_text()
    assert "br/public:" not in text and "br:" not in text
    for secret in ("AccountKey", "listKeys(", "listkeys(", "primaryKey", "SharedAccessSignature"):
        assert secret not in text, f"{secret} in {path.name}"
    parsed = parse_bicep(path)
    for name, res in parsed.get("resources", {}).items():
        if res["type"] in ONLY_PREVIEW_APIS:
            assert res["api_version"] == ONLY_PREVIEW_APIS[res["type"]], name
            continue
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", res["api_version"]), f"{name}: {res['api_version']}"


def test_main_uses_every_module_by_local_path(main_bicep):
    used = {m["detail"]["path"] for m in main_bicep["modules"].values()}
    # events.bicep is deployed on its own, after the function code (see its header).
    top_level = {"main.bicep", "events.bicep"}
    on_disk = {p.relative_to(INFRA).as_posix() for p in BICEP_FILES if p.name not in top_level}
    assert used == on_disk
    assert all(m["type"] == "local" for m in main_bicep["modules"].values())


def test_every_site_has_a_system_assigned_identity():
    sites = {}
    for path in BICEP_FILES:
        sites.update(resources_of_type(parse_bicep(path), "Microsoft.Web/sites"))
    assert set(sites) == {"functionApp", "webApp"}
    for name, site in sites.items():
        if site["existing"]:
            continue
        assert site["config"]["identity"] == {"type": "SystemAssigned"}, name
        assert site["config"]["properties"]["httpsOnly"] is True, name
        assert site["config"]["properties"]["siteConfig"]["minTlsVersion"] == "1.2", name


def test_no_app_setting_carries_a_key_or_connection_string():
    for path in BICEP_FILES:
        for site in resources_of_type(parse_bicep(path), "Microsoft.Web/sites").values():
            if site["existing"]:
                continue
            settings = app_settings(site)
            assert "AzureWebJobsStorage" not in settings, "key-based host storage setting"
            for value in walk_strings(list(settings.values())):
                assert "AccountKey" not in value and "listKeys" not in value


class TestFunctionApp:
    def test_plan_is_flex_consumption_on_linux(self, functionapp_bicep):
        plan = only_resource(functionapp_bicep, "Microsoft.Web/serverfarms")["config"]
        assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
        assert plan["properties"]["reserved"] is True
        site = only_resource(functionapp_bicep, "Microsoft.Web/sites")["config"]
        assert site["kind"] == "functionapp,linux"
        assert dotted(site["properties"]["serverFarmId"]) == "plan.id"

    def test_runtime_is_the_custom_handler_stack(self, functionapp_bicep):
        config = only_resource(functionapp_bicep, "Microsoft.Web/sites")["config"]
        runtime = config["properties"]["functionAppConfig"]["runtime"]
        assert runtime == {"name": "custom", "version": "1.0"}

    def test_memory_and_scale_limit_are_parameters_with_the_documented_defaults(
        self, functionapp_bicep, main_bicep
    ):
        config = only_resource(functionapp_bicep, "Microsoft.Web/sites")["config"]
        scale = config["properties"]["functionAppConfig"]["scaleAndConcurrency"]
        assert scale == {"instanceMemoryMB": "instanceMemoryMB", "maximumInstanceCount": "maximumInstanceCount"}
        params = functionapp_bicep["parameters"]
        assert params["instanceMemoryMB"]["type"] == "int"
        assert params["maximumInstanceCount"]["type"] == "int"
        assert decorator(params["instanceMemoryMB"], "allowed") == [512, 2048, 4096]
        # main.bicep exposes both and passes them through.
        main_params = main_bicep["parameters"]
        assert main_params["functionInstanceMemoryMB"]["default"] == 2048
        assert main_params["functionMaximumInstanceCount"]["default"] == 100
        module = body(main_bicep["modules"]["functionApp"])["params"]
        assert module["instanceMemoryMB"] == "functionInstanceMemoryMB"
        assert module["maximumInstanceCount"] == "functionMaximumInstanceCount"

    def test_package_comes_from_a_blob_container_through_the_identity(self, functionapp_bicep):
        config = only_resource(functionapp_bicep, "Microsoft.Web/sites")["config"]
        storage = config["properties"]["functionAppConfig"]["deployment"]["storage"]
        assert storage["type"] == "blobContainer"
        assert storage["authentication"] == {"type": "SystemAssignedIdentity"}
        assert storage["value"] == "${blobServiceUri}/${deploymentContainerName}"

    def test_host_storage_uses_the_managed_identity(self, functionapp_bicep):
        settings = app_settings(only_resource(functionapp_bicep, "Microsoft.Web/sites"))
        assert STORAGE_IDENTITY_SETTINGS <= set(settings)
        assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
        assert settings["AzureWebJobsStorage__accountName"] == "storageAccountName"
        assert dotted(settings["APPLICATIONINSIGHTS_CONNECTION_STRING"]) == (
            "appInsights.properties.ConnectionString"
        )
        for name in ("blob", "queue", "table"):
            uri = resolve(functionapp_bicep, settings[f"AzureWebJobsStorage__{name}ServiceUri"])
            assert uri == f"https://${{storageAccountName}}.{name}.${{storageSuffix}}"

    def test_housekeeping_schedule_and_retention_are_settings_with_the_documented_defaults(
        self, functionapp_bicep, main_bicep
    ):
        # Without HOUSEKEEPING_SCHEDULE the host cannot resolve the timer's %...% schedule.
        settings = app_settings(only_resource(functionapp_bicep, "Microsoft.Web/sites"))
        assert settings["HOUSEKEEPING_SCHEDULE"] == "housekeepingSchedule"
        assert settings["HOUSEKEEPING_RETENTION"] == "housekeepingRetention"
        for bicep in (functionapp_bicep, main_bicep):
            assert bicep["parameters"]["housekeepingSchedule"]["default"] == "0 0 3 * * *"
            assert bicep["parameters"]["housekeepingRetention"]["default"] == "7.00:00:00"
        module = body(main_bicep["modules"]["functionApp"])["params"]
        assert module["housekeepingSchedule"] == "housekeepingSchedule"

    def test_no_setting_flex_consumption_deprecates(self, functionapp_bicep):
        settings = app_settings(only_resource(functionapp_bicep, "Microsoft.Web/sites"))
        assert not FLEX_DEPRECATED_SETTINGS & set(settings)
        site_config = only_resource(functionapp_bicep, "Microsoft.Web/sites")["config"]["properties"]["siteConfig"]
        assert not {"linuxFxVersion", "alwaysOn", "functionAppScaleLimit"} & set(site_config)


class TestWebApp:
    def test_plan_is_linux_with_a_sku_parameter_defaulting_to_b1(self, webapp_bicep, main_bicep):
        plan = only_resource(webapp_bicep, "Microsoft.Web/serverfarms")["config"]
        assert plan["properties"]["reserved"] is True
        assert plan["kind"] == "linux"
        assert plan["sku"] == {"name": "sku"}
        assert webapp_bicep["parameters"]["sku"]["default"] == "B1"
        assert main_bicep["parameters"]["webAppSku"]["default"] == "B1"
        assert body(main_bicep["modules"]["webApp"])["params"]["sku"] == "webAppSku"

    def test_site_runs_the_startup_script_on_a_linux_stack(self, webapp_bicep, main_bicep):
        site = only_resource(webapp_bicep, "Microsoft.Web/sites")["config"]
        assert site["kind"] == "app,linux"
        site_config = site["properties"]["siteConfig"]
        assert site_config["linuxFxVersion"] == "linuxFxVersion"
        assert webapp_bicep["parameters"]["linuxFxVersion"]["default"] == "PYTHON|3.12"
        assert main_bicep["parameters"]["webAppLinuxFxVersion"]["default"] == "PYTHON|3.12"
        assert site_config["appCommandLine"] == "/home/site/wwwroot/startup.sh"

    def test_site_is_locked_down_and_health_checked(self, webapp_bicep):
        site = only_resource(webapp_bicep, "Microsoft.Web/sites")["config"]
        site_config = site["properties"]["siteConfig"]
        assert site_config["healthCheckPath"] == "/health"
        assert site_config["ftpsState"] == "Disabled"
        assert site_config["minTlsVersion"] == "1.2"
        assert site["properties"]["httpsOnly"] is True

    def test_settings_turn_off_remote_build_and_route_to_the_binary_port(self, webapp_bicep):
        settings = app_settings(only_resource(webapp_bicep, "Microsoft.Web/sites"))
        assert settings["SCM_DO_BUILD_DURING_DEPLOYMENT"] == "false"
        assert settings["WEBSITES_PORT"] == "8080"

    def test_job_endpoints_use_the_same_identity_settings_as_the_function_app(
        self, webapp_bicep, functionapp_bicep
    ):
        web = app_settings(only_resource(webapp_bicep, "Microsoft.Web/sites"))
        func = app_settings(only_resource(functionapp_bicep, "Microsoft.Web/sites"))
        assert STORAGE_IDENTITY_SETTINGS <= set(web) & set(func)
        assert web["AzureWebJobsStorage__credential"] == "managedidentity"
        assert web["AzureWebJobsStorage__queueServiceUri"] == "https://${storageAccountName}.queue.${storageSuffix}"
        assert web["AzureWebJobsStorage__blobServiceUri"] == "https://${storageAccountName}.blob.${storageSuffix}"
        assert dotted(web["APPLICATIONINSIGHTS_CONNECTION_STRING"]) == "appInsights.properties.ConnectionString"

    def test_entra_authentication_is_off_by_default_and_guards_the_whole_app_when_set(
        self, webapp_bicep, main_bicep
    ):
        assert webapp_bicep["parameters"]["authClientId"]["default"] == ""
        assert main_bicep["parameters"]["webAppAuthClientId"]["default"] == ""
        assert body(main_bicep["modules"]["webApp"])["params"]["authClientId"] == "webAppAuthClientId"
        auth = only_resource(webapp_bicep, "Microsoft.Web/sites/config")["config"]
        assert auth["condition"]["operator"]["type"] == "not"
        assert "authClientId" in repr(auth["condition"])
        config = auth["config"]
        assert config["name"] == "authsettingsV2"
        assert config["parent"] == "webApp"
        props = config["properties"]
        assert props["platform"]["enabled"] is True
        validation = props["globalValidation"]
        assert validation["requireAuthentication"] is True
        assert validation["unauthenticatedClientAction"] == "RedirectToLoginPage"
        # The platform's health check has no token.
        assert validation["excludedPaths"] == ["/health"]
        entra = props["identityProviders"]["azureActiveDirectory"]
        assert entra["registration"]["clientId"] == "authClientId"
        assert entra["registration"]["openIdIssuer"].endswith("${authTenantId}/v2.0")
        assert entra["validation"]["allowedAudiences"] == ["api://${authClientId}"]


class TestStorage:
    def test_account_is_tls12_https_only_keyless_and_private(self, storage_bicep):
        props = only_resource(storage_bicep, "Microsoft.Storage/storageAccounts")["config"]["properties"]
        assert props["minimumTlsVersion"] == "TLS1_2"
        assert props["supportsHttpsTrafficOnly"] is True
        assert props["allowBlobPublicAccess"] is False
        assert props["allowSharedKeyAccess"] is False

    def test_main_creates_the_queues_and_containers_the_code_uses(self, main_bicep):
        params = body(main_bicep["modules"]["storage"])["params"]
        queues = [resolve(main_bicep, q) for q in params["queueNames"]]
        containers = [resolve(main_bicep, c) for c in params["containerNames"]]
        assert queues == ["predict-jobs", "predict-jobs-poison", "score-uploads", "score-uploads-poison"]
        assert containers == [
            "results", "job-inputs", "uploads", "poison", "locks", "eventgrid-deadletter", "app-package",
        ]
        # The function app deploys from the container the storage module creates.
        func_params = body(main_bicep["modules"]["functionApp"])["params"]
        assert func_params["deploymentContainerName"] in params["containerNames"]

    def test_queues_and_containers_are_looped_from_the_parameters(self, storage_bicep):
        for resource_type, array, parent in (
            ("Microsoft.Storage/storageAccounts/queueServices/queues", "queueNames", "queueService"),
            ("Microsoft.Storage/storageAccounts/blobServices/containers", "containerNames", "blobService"),
        ):
            config = only_resource(storage_bicep, resource_type)["config"]
            loop = config["loop_type"]
            assert loop["type"] == "array"
            assert loop["detail"]["array_name"] == array
            assert config["config"]["name"] == loop["detail"]["item_name"]
            assert config["config"]["parent"] == parent


class TestRoleAssignments:
    def assignments(self, roles_bicep):
        role_vars = roles_bicep["variables"]["roles"]["value"]
        found = {}
        for name, res in resources_of_type(roles_bicep, "Microsoft.Authorization/roleAssignments").items():
            config = body(res)
            props = config["properties"]
            role_id_fn = props["roleDefinitionId"]["function"]
            assert role_id_fn["type"] == "subscription_resource_id"
            assert role_id_fn["parameters"]["resource_type"] == "Microsoft.Authorization/roleDefinitions"
            role_ref = dotted(role_id_fn["parameters"]["resource_name_1"])
            role_guid = role_vars[role_ref.split(".", 1)[1]]
            # Deterministic name: guid(storage.id, principal, role).
            guid = config["name"]["function"]
            assert guid["type"] == "guid", name
            assert [dotted(v) for v in guid["parameters"].values()] == [
                "storage.id",
                props["principalId"],
                role_ref,
            ], name
            assert config["scope"] == "storage"
            assert props["principalType"] == "ServicePrincipal"
            found.setdefault(props["principalId"], set()).add(role_guid)
        return found

    def test_role_variables_hold_the_builtin_role_ids(self, roles_bicep):
        role_vars = roles_bicep["variables"]["roles"]["value"]
        assert set(role_vars.values()) == {v for k, v in ROLE_IDS.items() if k.startswith("Storage ")}

    def test_function_app_gets_host_storage_and_queue_roles(self, roles_bicep):
        found = self.assignments(roles_bicep)
        assert found["functionAppPrincipalId"] == {
            ROLE_IDS["Storage Blob Data Owner"],
            ROLE_IDS["Storage Queue Data Contributor"],
            ROLE_IDS["Storage Table Data Contributor"],
        }

    def test_web_app_gets_queue_and_blob_data_roles(self, roles_bicep):
        found = self.assignments(roles_bicep)
        assert found["webAppPrincipalId"] == {
            ROLE_IDS["Storage Queue Data Contributor"],
            ROLE_IDS["Storage Blob Data Contributor"],
        }

    def test_container_app_gets_the_same_roles_as_the_web_app(self, roles_bicep):
        found = self.assignments(roles_bicep)
        assert found["containerAppPrincipalId"] == found["webAppPrincipalId"]
        # Each web hosting's roles exist only when its identity does.
        for name in ("webQueueContributor", "webBlobContributor", "containerQueueContributor", "containerBlobContributor"):
            assert "PrincipalId" in repr(condition(roles_bicep["resources"][name])), name
        for name in ("functionBlobOwner", "functionQueueContributor", "functionTableContributor"):
            assert condition(roles_bicep["resources"][name]) is None, name

    def test_main_wires_each_apps_identity(self, main_bicep):
        params = body(main_bicep["modules"]["roles"])["params"]
        assert dotted(params["functionAppPrincipalId"]) == "functionApp.outputs.principalId"
        cond, then, otherwise = ternary(params["webAppPrincipalId"])
        assert (cond, dotted(then), otherwise) == ("onAppService", "webApp.outputs.principalId", "")
        cond, then, otherwise = ternary(params["containerAppPrincipalId"])
        assert (cond, dotted(then), otherwise) == ("onContainerApps", "containerApp.outputs.principalId", "")
        assert dotted(params["storageAccountName"]) == "storage.outputs.name"


def test_both_apps_report_to_workspace_based_application_insights(
    monitoring_bicep, main_bicep, functionapp_bicep, webapp_bicep
):
    ai = only_resource(monitoring_bicep, "Microsoft.Insights/components")["config"]
    assert dotted(ai["properties"]["WorkspaceResourceId"]) == "workspace.id"
    only_resource(monitoring_bicep, "Microsoft.OperationalInsights/workspaces")
    for module in ("functionApp", "webApp", "containerApp"):
        params = body(main_bicep["modules"][module])["params"]
        assert dotted(params["appInsightsName"]) == "monitoring.outputs.appInsightsName"
    for parsed in (functionapp_bicep, webapp_bicep):
        assert only_resource(parsed, "Microsoft.Insights/components")["existing"] is True


def test_outputs_give_both_urls_and_names(main_bicep):
    outputs = main_bicep["outputs"]
    assert ternary(outputs["webAppUrl"]["value"]) == ("onAppService", "https://${webApp.outputs.defaultHostName}", "")
    assert outputs["functionAppUrl"]["value"] == "https://${functionApp.outputs.defaultHostName}"
    cond, name, otherwise = ternary(outputs["webAppName"]["value"])
    assert (cond, dotted(name), otherwise) == ("onAppService", "webApp.outputs.name", "")
    for output, source in (
        ("containerAppUrl", "containerApp.outputs.url"),
        ("containerAppName", "containerApp.outputs.name"),
        ("registryLoginServer", "registry.outputs.loginServer"),
        ("registryName", "registry.outputs.name"),
    ):
        cond, then, otherwise = ternary(outputs[output]["value"])
        assert (cond, dotted(then), otherwise) == ("onContainerApps", source, ""), output
    assert dotted(outputs["functionAppName"]["value"]) == "functionApp.outputs.name"
    for module in ("functionapp", "webapp"):
        parsed = parse_bicep(INFRA / "modules" / f"{module}.bicep")
        assert dotted(parsed["outputs"]["defaultHostName"]["value"]).endswith(".properties.defaultHostName")
        assert dotted(parsed["outputs"]["principalId"]["value"]).endswith(".identity.principalId")


def container_app_module(main_bicep):
    return main_bicep["modules"]["containerApp"]


class TestWebHosting:
    def test_app_service_is_the_default_and_container_apps_or_both_can_be_chosen(self, main_bicep):
        param = main_bicep["parameters"]["webHosting"]
        assert param["default"] == "appService"
        assert decorator(param, "allowed") == ["appService", "containerApps", "both"]
        variables = main_bicep["variables"]
        assert repr(variables["onAppService"]["value"]).count("containerApps") == 1
        assert repr(variables["onContainerApps"]["value"]).count("appService") == 1
        assert condition(main_bicep["modules"]["webApp"]) == "onAppService"
        assert condition(main_bicep["modules"]["registry"]) == "onContainerApps"
        assert condition(container_app_module(main_bicep)) == "onContainerApps"
        # The function app, storage and monitoring serve either hosting.
        for module in ("functionApp", "storage", "monitoring", "roles"):
            assert condition(main_bicep["modules"][module]) is None, module

    def test_the_parameters_file_keeps_the_default_hosting(self, parameters_file):
        assert "webHosting" not in parameters_file["parameters"]
        assert "containerImage" not in parameters_file["parameters"]


class TestRegistry:
    def test_registry_has_no_admin_user_and_no_anonymous_pull(self):
        parsed = parse_bicep(INFRA / "modules" / "registry.bicep")
        registry = only_resource(parsed, "Microsoft.ContainerRegistry/registries")["config"]
        assert registry["properties"]["adminUserEnabled"] is False
        assert registry["properties"]["anonymousPullEnabled"] is False
        assert registry["sku"] == {"name": "Basic"}

    def test_a_user_assigned_identity_gets_acr_pull_on_the_registry_only(self):
        parsed = parse_bicep(INFRA / "modules" / "registry.bicep")
        only_resource(parsed, "Microsoft.ManagedIdentity/userAssignedIdentities")
        assignment = only_resource(parsed, "Microsoft.Authorization/roleAssignments")["config"]
        assert assignment["scope"] == "registry"
        props = assignment["properties"]
        assert dotted(props["principalId"]) == "pullIdentity.properties.principalId"
        assert props["principalType"] == "ServicePrincipal"
        role = props["roleDefinitionId"]["function"]["parameters"]["resource_name_1"]
        assert resolve(parsed, role) == ROLE_IDS["AcrPull"]
        assert [dotted(v) for v in assignment["name"]["function"]["parameters"].values()] == [
            "registry.id",
            "pullIdentity.id",
            "acrPullRoleId",
        ]
        assert dotted(parsed["outputs"]["pullIdentityId"]["value"]) == "pullIdentity.id"


@pytest.fixture
def parsed(containerapp_bicep):
    return containerapp_bicep


@pytest.fixture
def app(containerapp_bicep):
    return only_resource(containerapp_bicep, "Microsoft.App/containerApps")


class TestContainerApp:
    def container(self, app):
        (container,) = body(app)["properties"]["template"]["containers"]
        return container

    def test_the_app_waits_for_an_image_and_main_passes_it_through(self, parsed, app, main_bicep):
        # The first deployment creates the registry; the app follows once an image is pushed.
        assert "image" in repr(condition(app)) and condition(app)["operator"]["type"] == "not"
        assert parsed["parameters"]["image"]["default"] == ""
        assert main_bicep["parameters"]["containerImage"]["default"] == ""
        params = body(container_app_module(main_bicep))["params"]
        assert params["image"] == "containerImage"
        assert self.container(app)["image"] == "image"

    def test_ingress_is_external_https_on_the_image_port(self, parsed, app):
        ingress = body(app)["properties"]["configuration"]["ingress"]
        assert ingress["external"] is True
        assert ingress["allowInsecure"] is False
        assert ingress["targetPort"] == "port"
        assert parsed["variables"]["port"]["value"] == 8080
        env = {e["name"]: e for e in self.container(app)["env"]}
        assert env["PORT"]["value"]["function"]["parameters"]["value_to_convert"] == "port"

    def test_it_scales_to_zero_and_out_on_http_concurrency(self, parsed, app):
        scale = body(app)["properties"]["template"]["scale"]
        assert scale["minReplicas"] == 0
        assert scale["maxReplicas"] == "maxReplicas"
        (rule,) = scale["rules"]
        assert set(rule) == {"name", "http"}
        concurrency = rule["http"]["metadata"]["concurrentRequests"]
        assert concurrency["function"]["parameters"]["value_to_convert"] == "concurrentRequests"
        assert parsed["parameters"]["concurrentRequests"]["default"] == 100

    def test_startup_liveness_and_readiness_probe_health_on_the_port(self, app):
        probes = self.container(app)["probes"]
        assert sorted(p["type"] for p in probes) == ["Liveness", "Readiness", "Startup"]
        for probe in probes:
            assert probe["httpGet"] == {"path": "/health", "port": "port"}
            # Container Apps' limits: 1-10 failures, 1-240 s between tries.
            assert 1 <= probe.get("failureThreshold", 3) <= 10, probe
            assert 1 <= probe.get("periodSeconds", 10) <= 240, probe

    def test_the_image_is_pulled_with_the_user_assigned_identity_and_no_password(self, app, main_bicep):
        config = body(app)
        identity = config["identity"]
        assert identity["type"] == "SystemAssigned,UserAssigned"
        assert list(identity["userAssignedIdentities"]) == ["'${pullIdentityId}'"]
        (registry,) = config["properties"]["configuration"]["registries"]
        assert registry == {"server": "registryLoginServer", "identity": "pullIdentityId"}
        assert "passwordSecretRef" not in repr(config) and "username" not in repr(config)
        params = body(container_app_module(main_bicep))["params"]
        for param, output in (("pullIdentityId", "registry.outputs.pullIdentityId"),
                              ("registryLoginServer", "registry.outputs.loginServer")):
            cond, then, otherwise = ternary(params[param])
            assert (cond, dotted(then), otherwise) == ("onContainerApps", output, ""), param

    def test_storage_settings_are_the_web_apps_and_telemetry_is_a_secret(self, app, webapp_bicep):
        env = {e["name"]: e for e in self.container(app)["env"]}
        web = app_settings(only_resource(webapp_bicep, "Microsoft.Web/sites"))
        for name in STORAGE_IDENTITY_SETTINGS:
            assert env[name]["value"] == web[name], name
        assert env["APPLICATIONINSIGHTS_CONNECTION_STRING"] == {
            "name": "APPLICATIONINSIGHTS_CONNECTION_STRING",
            "secretRef": "appinsights-connection-string",
        }
        (secret,) = body(app)["properties"]["configuration"]["secrets"]
        assert dotted(secret["value"]) == "appInsights.properties.ConnectionString"
        assert set(env) == STORAGE_IDENTITY_SETTINGS | {"PORT", "APPLICATIONINSIGHTS_CONNECTION_STRING"}

    def test_environment_logs_reach_the_workspace_without_its_key(self, parsed):
        env = only_resource(parsed, "Microsoft.App/managedEnvironments")["config"]
        assert env["properties"]["appLogsConfiguration"] == {"destination": "azure-monitor"}
        logs = only_resource(parsed, "Microsoft.Insights/diagnosticSettings")["config"]
        assert logs["scope"] == "managedEnvironment"
        assert dotted(logs["properties"]["workspaceId"]) == "workspace.id"
        assert only_resource(parsed, "Microsoft.OperationalInsights/workspaces")["existing"] is True


class TestEvents:
    def test_blob_created_under_uploads_goes_to_the_queue_upload_webhook_with_its_system_key(self, events_bicep):
        topic = only_resource(events_bicep, "Microsoft.EventGrid/systemTopics")["config"]
        assert topic["properties"]["topicType"] == "Microsoft.Storage.StorageAccounts"
        assert dotted(topic["properties"]["source"]) == "storage.id"
        subscription = only_resource(events_bicep, "Microsoft.EventGrid/systemTopics/eventSubscriptions")["config"]
        props = subscription["properties"]
        assert props["filter"]["includedEventTypes"] == ["Microsoft.Storage.BlobCreated"]
        assert props["filter"]["subjectBeginsWith"] == "/blobServices/default/containers/${uploadsContainerName}/blobs/"
        assert events_bicep["parameters"]["uploadsContainerName"]["default"] == "uploads"
        assert props["eventDeliverySchema"] == "EventGridSchema"
        destination = props["destination"]
        # The function as destination: Event Grid reads the system key itself.
        assert destination["endpointType"] == "AzureFunction"
        assert destination["properties"]["resourceId"] == "${functionApp.id}/functions/queue-upload"
        assert destination["properties"]["maxEventsPerBatch"] == 1

    def test_undeliverable_events_are_retried_for_a_day_then_dead_lettered_with_the_topics_identity(self, events_bicep):
        topic = only_resource(events_bicep, "Microsoft.EventGrid/systemTopics")["config"]
        assert topic["identity"]["type"] == "SystemAssigned"
        subscription = only_resource(events_bicep, "Microsoft.EventGrid/systemTopics/eventSubscriptions")["config"]
        props = subscription["properties"]
        assert props["retryPolicy"] == {"maxDeliveryAttempts": 30, "eventTimeToLiveInMinutes": 1440}
        dead = props["deadLetterWithResourceIdentity"]
        assert dead["identity"]["type"] == "SystemAssigned"
        assert dead["deadLetterDestination"]["endpointType"] == "StorageBlob"
        assert dotted(dead["deadLetterDestination"]["properties"]["resourceId"]) == "storage.id"
        assert dead["deadLetterDestination"]["properties"]["blobContainerName"] == "deadLetterContainerName"
        assert events_bicep["parameters"]["deadLetterContainerName"]["default"] == "eventgrid-deadletter"
        role = only_resource(events_bicep, "Microsoft.Authorization/roleAssignments")["config"]
        assert dotted(role["properties"]["principalId"]) == "topic.identity.principalId"

