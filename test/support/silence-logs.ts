import { Logger } from '@nestjs/common';

// Services log through Nest's static Logger; unit specs run without an app to configure it.
Logger.overrideLogger(false);
