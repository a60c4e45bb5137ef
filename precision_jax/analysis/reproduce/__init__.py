"""The paper's figures, reproduced: figure specs (``spec``), their runs (``runner``), the numbers a claim reads
(``measures``), the judge of each claim (``claims``) and the report (``report``); ``prec reproduce`` drives them."""
