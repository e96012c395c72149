import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { useApp } from './support/use-app';

const CONTRACT = join(__dirname, '..', 'contract');

describe('GET /contract/…', () => {
  const fixture = useApp();

  it('serves contract/asyncapi.yaml as it is checked in, as application/yaml', async () => {
    const response = await fetch(`${fixture.app.httpUrl}/contract/asyncapi.yaml`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/yaml; charset=utf-8');
    expect(await response.text()).toBe(await readFile(join(CONTRACT, 'asyncapi.yaml'), 'utf8'));
  });

  it('serves contract/schema.json as it is checked in, as application/json', async () => {
    const response = await fetch(`${fixture.app.httpUrl}/contract/schema.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await response.text()).toBe(await readFile(join(CONTRACT, 'schema.json'), 'utf8'));
  });

  it('answers 404 for another file of the folder', async () => {
    const response = await fetch(`${fixture.app.httpUrl}/contract/package.json`);
    expect(response.status).toBe(404);
  });
});
