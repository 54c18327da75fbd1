"""The report sentences of MAMA_METHOD.md section 4, shared by the reference scripts.

Written from the method text, independently of engine/text/report.c, so that the committed
references check the C report builder rather than repeat it.
"""

DENS = ['The breast tissue is almost entirely fat.',
        'The breast tissue has scattered fibroglandular densities.',
        'The breast tissue is heterogeneously dense. This may lower the sensitivity of mammography.',
        'The breast tissue is extremely dense. This may lower the sensitivity of mammography.']
FIND = ['additional imaging evaluation is needed', 'there is no evidence of malignancy',
        'there are benign findings', 'there is a probably benign finding',
        'there is a suspicious abnormality',
        'there is an abnormality highly suggestive of malignancy',
        'there is a known biopsy-proven malignancy']
IMP = ['Incomplete, additional imaging evaluation is needed', 'Negative', 'Benign',
       'Probably benign', 'Suspicious abnormality', 'Highly suggestive of malignancy',
       'Known biopsy-proven malignancy']
OVR = ['Incomplete', 'Negative', 'Benign', 'Probably benign', 'Suspicious',
       'Highly suggestive of malignancy', 'Known malignancy']
