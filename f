A

