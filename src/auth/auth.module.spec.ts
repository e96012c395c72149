import { Test } from '@nestjs/testing';
import { signToken, TEST_SECRET } from '../../test/support/jwt-fixtures';
import { AppConfigModule } from '../config/app-config.module';
import { configWith } from '../config/load-config';
import { AuthModule } from './auth.module';
import { RoomPolicy } from './room-policy';
import { TokenVerifier } from './token-verifier';

describe('AuthModule', () => {
  it('provides a TokenVerifier and a RoomPolicy built from the AppConfig', async () => {
    const config = configWith({
      AUTH_MODE: 'jwt',
      JWT_SECRET: TEST_SECRET,
      AUTH_DEFAULT_ROOMS: 'lobby',
    });
    const moduleRef = await Test.createTestingModule({
      imports: [AppConfigModule.forRoot(config), AuthModule],
    }).compile();
    const principal = await moduleRef
      .get(TokenVerifier)
      .verify(await signToken({ sub: 'alice' }, TEST_SECRET));
    const rooms = moduleRef.get(RoomPolicy);
    expect(rooms.canEnter(principal, 'lobby')).toBe(true);
    expect(rooms.canEnter(principal, 'elsewhere')).toBe(false);
    await moduleRef.close();
  });

  it('builds under AUTH_MODE=none without any key', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [AppConfigModule.forRoot(configWith({})), AuthModule],
    }).compile();
    expect(moduleRef.get(RoomPolicy).canEnter(undefined, 'anything')).toBe(true);
    await moduleRef.close();
  });
});
