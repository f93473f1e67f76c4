"""The bodies DashScope really answers with, native (/api/v1) and OpenAI-compatible
(/compatible-mode/v1) shapes. Codes and messages follow Alibaba Cloud Model Studio's error-code page
and bodies reported by users; the fake builds every answer from here.
"""

import time
import uuid
from collections import namedtuple

ApiError = namedtuple("ApiError", "status code message compatible_code compatible_type compatible_message")

ERRORS = {
    "invalid_api_key": ApiError(401, "InvalidApiKey", "Invalid API-key provided.",
                                "invalid_api_key", "invalid_request_error", "Incorrect API key provided. "),
    "no_api_key": ApiError(401, "InvalidApiKey", "No API-key provided.",
                           "invalid_api_key", "invalid_request_error", "You didn't provide an API key."),
    "access_denied": ApiError(403, "AccessDenied", "Access denied.",
                              "access_denied", "access_denied", "Access denied."),
    "model_access_denied": ApiError(403, "Model.AccessDenied", "Model access denied.",
                                    "Model.AccessDenied", "Model.AccessDenied", "Model access denied."),
    "workspace_access_denied": ApiError(403, "Workspace.AccessDenied", "Workspace access denied.",
                                        "Workspace.AccessDenied", "Workspace.AccessDenied",
                                        "Workspace access denied."),
    "arrearage": ApiError(400, "Arrearage",
                          "Access denied, please make sure your account is in good standing.",
                          "Arrearage", "Arrearage",
                          "Access denied, please make sure your account is in good standing."),
    "throttling": ApiError(429, "Throttling", "Requests throttling triggered.",
                           "Throttling", "Throttling", "Requests throttling triggered."),
    "rate_quota": ApiError(429, "Throttling.RateQuota", "Requests rate limit exceeded, please try again later.",
                           "limit_requests", "limit_requests",
                           "Requests rate limit exceeded, please try again later."),
    "internal_error": ApiError(500, "InternalError",
                               "An internal error has occured, please try again later or contact service support.",
                               "internal_error", "internal_error",
                               "An internal error has occured, please try again later or contact service support."),
    "model_not_found": ApiError(404, "ModelNotFound", "Model not exist.",
                                "model_not_found", "invalid_request_error",
                                "The model does not exist or you do not have access to it."),
    "invalid_parameter": ApiError(400, "InvalidParameter",
                                  "Required parameter(s) missing or invalid, please check the request parameters.",
                                  "invalid_parameter_error", "invalid_request_error",
                                  "Required parameter(s) missing or invalid, please check the request parameters."),
}


def new_request_id():
    return str(uuid.uuid4())


def error_body(error, compatible, request_id, echoed_key=None):
    """The JSON object for error in the native or compatible-mode shape. echoed_key, when given, is
    appended to the message the way careless gateways quote the credential back."""
    message = error.compatible_message if compatible else error.message
    if echoed_key is not None:
        message = "{} Presented key: {}".format(message.rstrip(), echoed_key)
    if compatible:
        return {"error": {"message": message, "type": error.compatible_type, "param": None,
                          "code": error.compatible_code},
                "request_id": request_id}
    return {"code": error.code, "message": message, "request_id": request_id}


def native_models(request_id):
    return {"request_id": request_id,
            "output": {"total": 1, "page_no": 1, "page_size": 1,
                       "models": [{"model": "qwen-turbo", "name": "Qwen-Turbo"}]}}


def compatible_models(request_id):
    return {"object": "list",
            "data": [{"id": "qwen-turbo", "object": "model", "created": 1700000000, "owned_by": "system"}],
            "request_id": request_id}


def chat_completion(model, request_id):
    return {"id": "chatcmpl-" + request_id, "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"},
                         "finish_reason": "length"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}}


def not_found(compatible, request_id):
    if compatible:
        return {"error": {"message": "Not Found", "type": "invalid_request_error", "param": None,
                          "code": "not_found"}, "request_id": request_id}
    return {"code": "NotFound", "message": "Not Found!", "request_id": request_id}
