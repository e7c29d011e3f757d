-- The database that plan steps act on (TARGET_DATABASES "target"), beside the control
-- plane's own. Run once, when the postgres volume is first initialised.
CREATE DATABASE switchyard_target OWNER switchyard;
