"""fixed-ip: fixed private IP addresses for EC2 Auto Scaling instances.

The shared library of the Lambda functions (deployed as a layer). The domain modules
(`models`, `hostname`, `launch`, `ports`) import neither boto3 nor os.environ; the
adapters in `fixed_ip.adapters` translate AWS into the ports.
"""
