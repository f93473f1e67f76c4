"""The official DashScope regions and hosts (facts from Alibaba Cloud Model Studio's docs).

Kept free of imports so that verify.py --help can list the regions without loading anything else.
"""

REGION_HOSTS = {
    "cn": "dashscope.aliyuncs.com",
    "intl": "dashscope-intl.aliyuncs.com",
    "us": "dashscope-us.aliyuncs.com",
    "hk": "cn-hongkong.dashscope.aliyuncs.com",
}
REGION_NAMES = {"cn": "China (Beijing)", "intl": "International (Singapore)", "us": "US (Virginia)",
                "hk": "China (Hong Kong)"}
TOKEN_PLAN_HOSTS = {
    "cn": "token-plan.cn-beijing.maas.aliyuncs.com",
    "intl": "token-plan.ap-southeast-1.maas.aliyuncs.com",
}
DEFAULT_REGION = "cn"
