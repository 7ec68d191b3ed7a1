"""Questions asked of priced tables: MoE vs dense pairs, the cheapest point, claims, sensitivity,
projections, self-hosting against an API, cost at an interactivity. Imports pricing and bench only."""
